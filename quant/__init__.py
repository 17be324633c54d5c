"""INT8 post-training quantisation recipes — see issue 4; installed as edge_sr.quant."""
