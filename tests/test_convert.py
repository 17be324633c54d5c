"""Conversion: every target on a real checkpoint, verified in its runtime, with its contract."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import edge_sr
from edge_sr.cli import main
from edge_sr.converters import TARGETS, get_converter
from edge_sr.converters.base import SDK
from edge_sr.converters.contract import Contract, contract_path
from edge_sr.converters.pipeline import ConversionError, convert_model, verification_crop
from edge_sr.converters.spec import ExportSpec, ShapePolicy

MODEL = "dsclora"
SIZE = (48, 40)
RUNNABLE = {"onnx", "tflite", "executorch"}


@pytest.fixture(scope="module")
def all_targets(tmp_path_factory, zoo_dir, data_dir):
    """``edge-sr convert dsclora --target all`` once, as a user would."""
    out = tmp_path_factory.mktemp("all")
    code = main(["convert", MODEL, "--target", "all", "--precision", "fp32", "--input-size", "48x40", "-o", str(out)])
    assert code == 0
    return out


def _contract(folder: Path, target: str) -> dict:
    converter = get_converter(target)
    return Contract.read(contract_path(folder / f"{MODEL}.fp32{converter.suffix}")).data


@pytest.mark.parametrize("target", [c.name for c in TARGETS])
def test_every_target_is_verified_with_a_contract(target, all_targets, real_crop):
    converter = get_converter(target)
    artifact = all_targets / f"{MODEL}.fp32{converter.suffix}"
    assert artifact.exists()
    contract = _contract(all_targets, target)
    assert contract["target"] == target and contract["scale"] == 4 and contract["precision"] == "fp32"
    assert contract["input"]["name"] == "lr" and contract["output"]["name"] == "sr"
    assert contract["input"]["shape"] == [1, 3, 48, 40] and contract["output"]["shape"] == [1, 3, 192, 160]
    assert contract["model"]["source_sha256"] == edge_sr.load(MODEL).sha256
    assert contract["versions"]["torch"].startswith("2.13.0")
    verification = contract["verification"]
    assert verification["passed"] and "spec-read-back" in verification["checks"]
    assert "DIV2K" in verification["sizes"][0]["input"]
    if target in RUNNABLE:
        assert verification["ran"] and "numerics" in verification["checks"]
        assert verification["max_abs_diff"] <= 1e-4
        # The artifact, re-run independently on another real crop, still matches PyTorch.
        runner = converter.runner(artifact, ExportSpec(shape=ShapePolicy.fixed(*SIZE)))
        x = real_crop(*SIZE, index=5)
        reference = edge_sr.load(MODEL).run(x)
        assert float((runner(x) - reference).abs().max()) <= 1e-4
    else:
        assert not verification["ran"] and "cannot run" in verification["not_run_because"]
    golden = contract["golden"]
    golden_input = np.asarray(Image.open(all_targets / golden["input"]))
    golden_output = np.load(all_targets / golden["output"])
    assert golden_input.shape == (48, 40, 3)
    window = golden["output_window"]
    assert golden_output.shape == (1, 3, window["height"], window["width"])
    x = torch.from_numpy(golden_input.transpose(2, 0, 1).astype(np.float32) / 255.0)[None]
    full = edge_sr.load(MODEL).run(x)
    expected = full[:, :, window["top"] : window["top"] + window["height"], window["left"] : window["left"] + window["width"]]
    assert float((torch.from_numpy(golden_output) - expected).abs().max()) <= 1e-4


def test_coreml_spec_is_read_back(all_targets):
    contract = _contract(all_targets, "coreml")
    inspection = contract["inspection"]
    assert inspection["inputs"][0]["name"] == "lr" and inspection["inputs"][0]["shape"] == [1, 3, 48, 40]
    assert inspection["outputs"][0]["name"] == "sr"
    assert {"conv", "sigmoid"} <= set(inspection["ops"])
    assert inspection["const_tensors"]["fp16"] == 0  # fp32 requested
    # Stated whether or not CoreML ran here: the device-side golden check applies it.
    assert contract["verification"]["tolerance"] == {"name": "convert-fp32", "max_abs_diff": 1e-4}
    delegated = _contract(all_targets, "executorch-coreml")["inspection"]
    assert delegated["delegates"] == ["CoreMLBackend"]
    xnnpack = _contract(all_targets, "executorch")["inspection"]
    assert xnnpack["delegates"] == ["XnnpackBackend"]


class _Rank6PixelShuffle(torch.nn.Module):
    """Pixel shuffle written the textbook way: one rank-6 reshape/permute (what GPU delegates reject)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = x.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return y.reshape(n, c // 4, h * 2, w * 2)


def test_tflite_has_no_rank6_reshape_around_the_upsampler(all_targets, tmp_path):
    contract = _contract(all_targets, "tflite")
    inspection = contract["inspection"]
    assert inspection["high_rank_reshapes"] == []
    assert "TRANSPOSE_CONV" in inspection["ops"] and "RESHAPE" not in inspection["ops"]
    # The converter's MLIR location names are dropped, except the signature's input and output's,
    # and repeated shape vectors are shared.
    saved = contract["converter"]["details"]["compaction"]
    assert saved["tensor_names_bytes"] > 5000 and saved["tables_and_vectors_bytes"] > 500, saved
    assert saved["prelus_fused"] == 0  # SPAN has none
    assert inspection["size"]["tensor_names"] < 1500, inspection["size"]
    converter = get_converter("tflite")
    spec = ExportSpec(shape=ShapePolicy.fixed(8, 8))
    # The detector is real: a rank-6 shuffle is flagged ...
    rank6 = tmp_path / "rank6.tflite"
    converter.export(_Rank6PixelShuffle(), spec, rank6, sample=torch.rand(1, 12, 8, 8))
    assert any(entry["rank"] == 6 for entry in converter.inspect(rank6)["high_rank_reshapes"])
    # ... and exporting the network's PixelShuffle unchanged needs a chain of reshapes/transposes
    # around the upsampler, which the one-hot TRANSPOSE_CONV replaces.
    plain = tmp_path / "plain.tflite"
    converter.export(edge_sr.load(MODEL).module, ExportSpec(shape=ShapePolicy.fixed(*SIZE)), plain, sample=torch.rand(1, 3, *SIZE))
    assert "RESHAPE" in converter.inspect(plain)["ops"]


class _Gate(torch.nn.Module):
    """SPAN's attention tail, plus a number operand on a 2-D tensor the rewrite must leave alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = (torch.sigmoid(x) - 0.5) * 2.0
        return x * gate + (x.mean(dim=(2, 3)) + 1.0)[:, :, None, None]


def test_scalar_operands_become_4d_constants_equal_to_the_bit():
    from edge_sr.converters.executorch import _scalar_operands_as_constants

    sample = torch.randn(1, 4, 9, 7)
    rewritten, count, diff = _scalar_operands_as_constants(_Gate(), sample, dynamic_shapes=None)
    assert diff == 0.0
    assert count == 2  # the sub and the mul on 4-D tensors; the 2-D add keeps its number
    constants = dict(rewritten.named_buffers())
    assert sorted(float(c) for c in constants.values()) == [0.5, 2.0]
    assert all(c.shape == (1, 1, 1, 1) and c.dtype == torch.float32 for c in constants.values())
    for index in range(3):
        x = torch.randn(1, 4, 11, 5) * 10 ** index
        assert torch.equal(rewritten(x), _Gate()(x))
    # Half-precision graphs get half-precision constants.
    half, count, _ = _scalar_operands_as_constants(_Gate().half(), sample.half(), dynamic_shapes=None)
    assert count == 2 and all(c.dtype == torch.float16 for c in dict(half.named_buffers()).values())


def test_executorch_runs_span_attention_in_nhwc(all_targets, tmp_path, monkeypatch):
    # ExecuTorch makes ``sigmoid(x) − 0.5``'s number a rank-1 tensor, and XNNPACK's layout pass
    # then runs the sub in NCHW between two full-size transposes.  As a [1, 1, 1, 1] constant it
    # stays NHWC: what is left is the input's and output's transposes and one per 1-value constant.
    contract = _contract(all_targets, "executorch")
    rewritten = contract["converter"]["details"]["scalar_operands_as_constants"]
    ops = contract["inspection"]["xnnpack_ops"]
    assert rewritten == 7 and ops["Subtract"] == 7  # six gates and conv_1's border term
    assert "7 number operands of elementwise ops as [1, 1, 1, 1] constants, run in NHWC (checked: max diff 0.0e+00)" in contract["converter"]["notes"]
    assert ops["StaticTranspose"] <= 2 + rewritten, ops
    # Without the rewrite the same network lowers with a pair of full-size transposes per gate.
    from edge_sr.converters.executorch import ExecuTorchXNNPACKConverter, _ExecuTorchBase

    monkeypatch.setattr(ExecuTorchXNNPACKConverter, "prepare_for_lowering", _ExecuTorchBase.prepare_for_lowering)
    converter = get_converter("executorch")
    plain = tmp_path / "plain.pte"
    converter.export(edge_sr.load(MODEL).module, ExportSpec(shape=ShapePolicy.fixed(*SIZE)), plain, sample=torch.rand(1, 3, *SIZE))
    full_size_transposes = ops["StaticTranspose"] - rewritten
    assert converter.inspect(plain)["xnnpack_ops"]["StaticTranspose"] >= full_size_transposes + 12


def test_executorch_inspects_the_graph_of_a_network_with_relus(tmp_path, zoo_dir, data_dir):
    # A conv fused with a ReLU carries "output_max": inf in XNNPACK's graph, which flatc prints
    # bare; reading it as JSON failed every EFDN conversion to ExecuTorch (fp32 and int8).
    result = convert_model(edge_sr.load("efdn"), target="executorch", spec=ExportSpec(shape=ShapePolicy.fixed(48, 56)), output_dir=tmp_path)
    contract = Contract.read(result.contract).data
    assert contract["verification"]["passed"] and contract["verification"]["max_abs_diff"] <= 1e-4
    ops = contract["inspection"]["xnnpack_ops"]
    assert ops["Conv2d"] == 65 and ops["PReLU"] == 12 and ops["Sigmoid"] == 4, ops


def _litert_raw_and_compact(tmp_path: Path, model: str, sample: torch.Tensor) -> tuple[Path, Path, dict]:
    """litert-torch's own ``.tflite`` of a zoo model, and a copy rewritten by ``_compact``."""
    import litert_torch

    from edge_sr.converters.contract import INPUT_NAME
    from edge_sr.converters.tflite import NamedIO, _compact

    module = NamedIO(edge_sr.load(model).module).eval()
    raw, compact = tmp_path / "raw.tflite", tmp_path / "compact.tflite"
    litert_torch.convert(module, sample_kwargs={INPUT_NAME: sample}).export(str(raw))
    compact.write_bytes(raw.read_bytes())
    return raw, compact, _compact(compact)


def test_litert_compaction_shares_vectors_and_changes_no_output(tmp_path, real_crop):
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert import schema_py_generated as schema

    from edge_sr.converters.contract import INPUT_NAME

    sample = real_crop(24, 24)
    raw, compact, saved = _litert_raw_and_compact(tmp_path, "span-tiny", sample)
    assert compact.stat().st_size == raw.stat().st_size - saved["tensor_names_bytes"] - saved["tables_and_vectors_bytes"]
    assert saved["tensor_names_bytes"] > 1000 and saved["tables_and_vectors_bytes"] > 200, saved
    # Same graph, same constants, same result to the bit.
    outputs = []
    for path in (raw, compact):
        runner = Interpreter(model_path=str(path)).get_signature_runner()
        outputs.append(next(iter(runner(**{INPUT_NAME: sample.numpy()}).values())))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    before, after = (schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0) for path in (raw, compact))

    def data(model, tensor) -> bytes:
        buffer = model.buffers[tensor.buffer].data
        return b"" if buffer is None else bytes(buffer)

    for old, new in zip(before.subgraphs[0].tensors, after.subgraphs[0].tensors, strict=True):
        assert np.array_equal(old.shape, new.shape) and old.type == new.type
        assert data(before, old) == data(after, new)
    # Tensors without data share the empty buffer 0: one buffer per constant is left.
    constants = sum(1 for tensor in after.subgraphs[0].tensors if data(after, tensor))
    assert len(after.buffers) < len(before.buffers) and len(after.buffers) <= 1 + constants + len(after.metadata or [])
    # LiteRT's model analyzer runs the flatbuffer verifier first (shared vectors and tables pass).
    from ai_edge_litert import _pywrap_analyzer_wrapper as analyzer

    report = analyzer.ModelAnalyzer(str(compact), True, False)
    assert "not a valid Flatbuffer" not in report and "Subgraph#0" in report, report[:300]
    signature_input = after.signatureDefs[0].inputs[0].tensorIndex
    assert after.subgraphs[0].tensors[signature_input].name == before.subgraphs[0].tensors[signature_input].name


def test_litert_prelu_relu_forms_become_prelu_ops_equal_to_the_bit(tmp_path, real_crop):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from ai_edge_litert import schema_py_generated as schema

    from edge_sr.converters.contract import INPUT_NAME

    sample = real_crop(32, 32)
    raw, compact, saved = _litert_raw_and_compact(tmp_path, "efdn", sample)
    assert saved["prelus_fused"] == 12, saved  # EFDN's four cells × three PReLUs

    def ops(path: Path) -> list[str]:
        model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
        names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
        return [names[model.operatorCodes[op.opcodeIndex].builtinCode] for op in model.subgraphs[0].operators]

    before, after = ops(raw), ops(compact)
    assert after.count("PRELU") == 12 and "RELU" not in after and "SUB" not in after
    assert len(after) == len(before) - 3 * 12
    # The same result to the bit, with XNNPACK (which takes PRELU) and with the builtin kernels.
    for resolver in (OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES):
        outputs = []
        for path in (raw, compact):
            runner = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver).get_signature_runner()
            outputs.append(next(iter(runner(**{INPUT_NAME: sample.numpy()}).values())))
        np.testing.assert_array_equal(outputs[0], outputs[1])
    from ai_edge_litert import _pywrap_analyzer_wrapper as analyzer

    report = analyzer.ModelAnalyzer(str(compact), True, False)
    assert "not a valid Flatbuffer" not in report and "PRELU" in report, report[:300]


@pytest.mark.parametrize("target", ["onnx", "tflite", "executorch"])
def test_dynamic_artifacts_work_at_two_sizes_one_odd(target, tmp_path, zoo_dir, data_dir, real_crop):
    spec = ExportSpec(shape=ShapePolicy.dynamic())
    result = convert_model(edge_sr.load("span-tiny"), target=target, spec=spec, output_dir=tmp_path)
    contract = Contract.read(result.contract).data
    assert contract["input"]["shape"] == [1, 3, -1, -1]
    sizes = [row["size"] for row in contract["verification"]["sizes"]]
    assert [37, 53] in sizes and len(sizes) == 2
    if target == "tflite":
        assert any("dynamic-shape .tflite artifacts need LiteRT" in n for n in contract["converter"]["notes"])
    assert all(row["max_abs_diff"] <= 1e-4 for row in contract["verification"]["sizes"])
    runner = get_converter(target).runner(result.artifact, spec)
    for size in [(29, 35), (80, 64)]:
        x = real_crop(*size, index=2)
        assert float((runner(x) - edge_sr.load("span-tiny").run(x)).abs().max()) <= 1e-4


@pytest.mark.parametrize("target", ["onnx", "tflite", "executorch", "coreml"])
def test_fp16_artifacts(target, tmp_path, zoo_dir, data_dir):
    result = convert_model(edge_sr.load("span-tiny"), target=target, spec=ExportSpec(precision="fp16", shape=ShapePolicy.fixed(40, 48)), output_dir=tmp_path)
    contract = Contract.read(result.contract).data
    assert contract["precision"] == "fp16"
    if target == "coreml":
        assert contract["inspection"]["const_tensors"]["fp16"] > 10
    else:
        assert contract["verification"]["psnr_db"] >= 50
        assert contract["verification"]["tolerance"]["name"] == "convert-fp16-psnr"


def test_nhwc_tflite_for_mobile_apps(tmp_path, zoo_dir, data_dir, real_crop):
    spec = ExportSpec(shape=ShapePolicy.fixed(32, 36), layout="nhwc")
    result = convert_model(edge_sr.load("span-tiny"), target="tflite", spec=spec, output_dir=tmp_path)
    contract = Contract.read(result.contract).data
    assert contract["input"]["layout"] == "NHWC" and contract["input"]["shape"] == [1, 32, 36, 3]
    assert contract["inspection"]["inputs"][0]["shape"] == [1, 32, 36, 3]
    assert "TRANSPOSE" not in contract["inspection"]["ops"]  # no layout shuffles at the I/O either
    assert contract["verification"]["max_abs_diff"] <= 1e-4


def test_coreml_enumerated_shapes_and_image_io(tmp_path, zoo_dir, data_dir):
    sizes = [(64, 64), (48, 80)]
    result = convert_model(edge_sr.load("span-tiny"), target="coreml", spec=ExportSpec(shape=ShapePolicy.enumerated(sizes)), output_dir=tmp_path)
    inspection = Contract.read(result.contract).data["inspection"]
    assert sorted(tuple(s[-2:]) for s in inspection["inputs"][0]["enumerated"]) == sorted(sizes)
    image = convert_model(edge_sr.load("span-tiny"), target="coreml", spec=ExportSpec(shape=ShapePolicy.fixed(32, 32), image_io=True), output_dir=tmp_path / "image")
    contract = Contract.read(image.contract).data
    assert contract["inspection"]["inputs"][0]["type"] == "imageType"
    assert contract["inspection"]["outputs"][0]["type"] == "imageType"
    assert contract["output"]["clamped"] is True


@pytest.mark.skipif(sys.platform != "darwin", reason="coremltools runs predictions only on macOS")
def test_coreml_numerics_on_macos(all_targets):
    contract = _contract(all_targets, "coreml")
    assert contract["verification"]["ran"] and contract["verification"]["max_abs_diff"] <= 1e-4


def test_failed_verification_leaves_nothing(tmp_path, zoo_dir, data_dir, monkeypatch):
    converter = get_converter("onnx")
    original = type(converter).runner

    def off_by_a_little(self, path, spec, *, threads=None):
        run = original(self, path, spec, threads=threads)
        return lambda x: run(x) + 1e-3

    monkeypatch.setattr(type(converter), "runner", off_by_a_little)
    with pytest.raises(edge_sr.VerificationError, match="convert-fp32"):
        convert_model(edge_sr.load("span-tiny"), target="onnx", spec=ExportSpec(shape=ShapePolicy.fixed(24, 24)), output_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_sdk_is_one_line_naming_the_package(tmp_path, zoo_dir, capsys, monkeypatch):
    real = SDK.available
    monkeypatch.setattr(SDK, "available", lambda self: False if self.package == "onnxsim" else real(self))
    code = main(["convert", "span-tiny", "--target", "onnx", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "pip install onnxsim" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_unsupported_spec_is_one_line(tmp_path, zoo_dir, capsys):
    code = main(["convert", "span-tiny", "--target", "onnx", "--sizes", "64x64,32x32", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "enumerated" in err and err.count("\n") == 1
    code = main(["convert", "span-tiny", "--target", "onnx", "--input-size", "big", "-o", str(tmp_path)])
    assert code == 2 and "expected HxW" in capsys.readouterr().err


def test_verification_crop_is_real_div2k(data_dir):
    x, source = verification_crop(37, 53)
    assert x.shape == (1, 3, 37, 53) and "DIV2K" in source
    assert torch.equal(torch.round(x * 255) / 255, x)


MATRIX_MODELS = ["span-ch28", "dsclora", "spanf", "efdn", "span-team46", "espan", "dscf-fused", "efdn-x2"]
MATRIX_SPECS = {
    "fp32-fixed": ExportSpec(shape=ShapePolicy.fixed(64, 72)),
    "fp32-dynamic": ExportSpec(shape=ShapePolicy.dynamic()),
    "fp16-fixed": ExportSpec(precision="fp16", shape=ShapePolicy.fixed(64, 72)),
}


KNOWN_LIMITS = {
    # CoreML needs constant sizes for bilinear resizes; EFDN's attention resizes to the input size.
    **{(m, t, "fp32-dynamic"): "resize" for m in ("efdn", "efdn-x2") for t in ("coreml", "executorch-coreml")},
    # LiteRT's XNNPACK delegate cannot re-plan EFDN's input-sized resize when the input changes.
    **{(m, "tflite", "fp32-dynamic"): "failed to run it" for m in ("efdn", "efdn-x2")},
}


@pytest.mark.slow
@pytest.mark.parametrize("spec_name", list(MATRIX_SPECS))
@pytest.mark.parametrize("target", [c.name for c in TARGETS])
@pytest.mark.parametrize("model", MATRIX_MODELS)
def test_matrix(model, target, spec_name, tmp_path, zoo_dir, data_dir):
    spec = MATRIX_SPECS[spec_name]
    limit = KNOWN_LIMITS.get((model, target, spec_name))
    if limit is not None:
        # A documented limitation must still fail cleanly: one error, nothing written.
        with pytest.raises(ConversionError, match=limit):
            convert_model(edge_sr.load(model), target=target, spec=spec, output_dir=tmp_path)
        assert list(tmp_path.iterdir()) == []
        return
    result = convert_model(edge_sr.load(model), target=target, spec=spec, output_dir=tmp_path)
    verification = Contract.read(result.contract).data["verification"]
    assert verification["passed"]
    if verification["ran"]:
        if spec.precision == "fp32":
            assert verification["max_abs_diff"] <= 1e-4
        else:
            assert verification["psnr_db"] >= 50
    line = json.dumps({"model": model, "target": target, "spec": spec_name, "ran": verification["ran"],
                       "max_abs_diff": verification.get("max_abs_diff"), "psnr_db": verification.get("psnr_db"),
                       "bytes": result.bytes, "seconds": round(result.seconds, 1)})
    import os

    if os.environ.get("EDGE_SR_MATRIX_LOG"):
        with open(os.environ["EDGE_SR_MATRIX_LOG"], "a") as sink:
            sink.write(line + "\n")


def test_train_form_checkpoints_are_collapsed_first(tmp_path, zoo_dir, data_dir, real_crop):
    from train_forms import efdn_train, save_random

    source = save_random(tmp_path / "efdn_train.pth", "efdn", efdn_train("gv"))
    train = edge_sr.load(source, edbb_variant="gv")
    result = convert_model(train, target="onnx", spec=ExportSpec(shape=ShapePolicy.fixed(24, 28)), output_dir=tmp_path / "out")
    contract = Contract.read(result.contract).data
    assert contract["model"]["arch"] == "efdn" and "edbb_variant" not in contract["model"]["hyperparameters"]
    runner = get_converter("onnx").runner(result.artifact, ExportSpec(shape=ShapePolicy.fixed(24, 28)))
    x = real_crop(24, 28, index=4)
    assert float((runner(x) - train.run(x)).abs().max()) <= 1e-4


def test_tflite_also_runs_in_the_legacy_interpreter(all_targets):
    import os

    if not os.environ.get("EDGE_SR_TFLITE_RUNTIME_PYTHON"):
        pytest.fail("EDGE_SR_TFLITE_RUNTIME_PYTHON is not set: scripts/setup-env.sh installs tflite-runtime here")
    verification = _contract(all_targets, "tflite")["verification"]
    assert "secondary-runtime" in verification["checks"]
    (row,) = verification["secondary"]
    assert row["runtime"].startswith("tflite-runtime") and row["max_abs_diff"] <= 1e-4
