"""Building blocks shared by the architectures: re-parameterisable convolutions and their folds."""
