"""The emotion2vec_base architecture, as FunASR's ``model_conf``: the one definition.

FunASR ships no config for emotion2vec: :func:`emotion2vec_model_conf`
reconstructs the ``model_conf`` of the published emotion2vec_base key by key
from what ``funasr.models.emotion2vec`` reads, optionally scaled down. It is
the single source of the architecture: random-weight test models
(:func:`~speechbrain_ptssnn.upstreams.random_emotion2vec.save_random_emotion2vec`)
are built from it, and the upstream's MAC estimate
(:mod:`speechbrain_ptssnn.report.upstream_energy`) reads its numbers from it
(:func:`feature_encoder_layers` parses the convolutional encoder's spec).
"""

import ast
import copy

#: The audio modality's settings; ``None`` entries are set by
#: :func:`emotion2vec_model_conf` (the order is that of the config file).
_AUDIO_CONF = {
    "type": "AUDIO",
    "prenet_depth": None,
    "prenet_layerdrop": 0.05,
    "prenet_dropout": 0.1,
    "start_drop_path_rate": 0.0,
    "end_drop_path_rate": 0.0,
    "num_extra_tokens": 10,
    "init_extra_token_zero": True,
    "mask_noise_std": 0.01,
    "mask_prob_min": None,
    "mask_prob": 0.5,
    "inverse_mask": False,
    "mask_prob_adjust": 0.05,
    "keep_masked_pct": 0.0,
    "mask_length": 5,
    "add_masks": False,
    "remove_masks": False,
    "mask_dropout": 0.0,
    "encoder_zero_mask": True,
    "mask_channel_prob": 0.0,
    "mask_channel_length": 64,
    "ema_local_encoder": False,
    "local_grad_mult": 1.0,
    "use_alibi_encoder": True,
    "alibi_scale": 1.0,
    "learned_alibi": False,
    "alibi_max_pos": None,
    "learned_alibi_scale": True,
    "learned_alibi_scale_per_head": True,
    "learned_alibi_scale_per_layer": False,
    "num_alibi_heads": None,
    "model_depth": None,
    "decoder": {
        "decoder_dim": None,
        "decoder_groups": 16,
        "decoder_kernel": 7,
        "decoder_layers": None,
        "input_dropout": 0.1,
        "add_positions_masked": False,
        "add_positions_all": False,
        "decoder_residual": True,
        "projection_layers": 1,
        "projection_ratio": 2.0,
    },
    "extractor_mode": "layer_norm",
    "feature_encoder_spec": None,
    "conv_pos_width": 95,
    "conv_pos_groups": 16,
    "conv_pos_depth": 5,
    "conv_pos_pre_ln": False,
}

#: The model's settings; ``None`` entries are set by :func:`emotion2vec_model_conf`.
_MODEL_CONF = {
    "loss_beta": 0.0,
    "loss_scale": None,
    "depth": None,
    "start_drop_path_rate": 0.0,
    "end_drop_path_rate": 0.0,
    "num_heads": None,
    "norm_eps": 1e-05,
    "norm_affine": True,
    "encoder_dropout": 0.1,
    "post_mlp_drop": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.0,
    "dropout_input": 0.0,
    "layerdrop": 0.05,
    "embed_dim": None,
    "mlp_ratio": 4.0,
    "layer_norm_first": False,
    "average_top_k_layers": None,
    "end_of_block_targets": False,
    "clone_batch": 8,
    "layer_norm_target_layer": False,
    "batch_norm_target_layer": False,
    "instance_norm_target_layer": True,
    "instance_norm_targets": False,
    "layer_norm_targets": False,
    "ema_decay": 0.999,
    "ema_same_dtype": True,
    "log_norms": True,
    "ema_end_decay": 0.99999,
    "ema_anneal_end_step": 20000,
    "ema_encoder_only": False,
    "max_update": 100000,
    "extractor_mode": "layer_norm",
    "shared_decoder": None,
    "min_target_var": 0.1,
    "min_pred_var": 0.01,
    "supported_modality": "AUDIO",
    "mae_init": False,
    "seed": 1,
    "skip_ema": False,
    "cls_loss": 1.0,
    "recon_loss": 0.0,
    "d2v_loss": 1.0,
    "decoder_group": False,
    "adversarial_training": False,
    "adversarial_hidden_dim": 128,
    "adversarial_weight": 0.1,
    "cls_type": "chunk",
    "normalize": None,
    "modalities": None,
}


def emotion2vec_model_conf(
    embed_dim=768,
    depth=8,
    num_heads=12,
    prenet_depth=4,
    conv_channels=512,
    decoder_dim=384,
    decoder_layers=4,
    normalize=True,
):
    """The ``model_conf`` of emotion2vec_base, optionally scaled down.

    With the defaults this is the configuration of the published
    emotion2vec_base (768 dims, 8 + 4 transformer blocks, 12 heads, a 7-layer
    convolutional waveform encoder with a 320-sample hop, about 94 M
    parameters), reconstructed key by key from what
    ``funasr.models.emotion2vec`` reads. Smaller values give a model of the same
    architecture for fast tests.

    Arguments
    ---------
    embed_dim : int
        Transformer width (feature dimension); a multiple of 16 and of
        ``num_heads``.
    depth : int
        Number of main transformer blocks.
    num_heads : int
        Attention heads (also the number of ALiBi heads).
    prenet_depth : int
        Number of transformer blocks of the audio "prenet" (context encoder).
    conv_channels : int
        Channels of the convolutional waveform encoder.
    decoder_dim : int
        Width of the (unused at inference) data2vec decoder; a multiple of 16.
    decoder_layers : int
        Depth of that decoder.
    normalize : bool
        Whether FunASR layer-normalises each waveform first (true for all
        published emotion2vec models).

    Returns
    -------
    dict
        A plain ``model_conf`` dictionary (YAML-serialisable).

    Example
    -------
    >>> conf = emotion2vec_model_conf()
    >>> conf["embed_dim"], conf["depth"], conf["modalities"]["audio"]["prenet_depth"]
    (768, 8, 4)
    >>> emotion2vec_model_conf(embed_dim=64, depth=2, num_heads=4)["num_heads"]
    4
    """
    channels = int(conv_channels)
    audio = copy.deepcopy(_AUDIO_CONF)
    audio.update(
        prenet_depth=int(prenet_depth),
        num_alibi_heads=int(num_heads),
        model_depth=int(depth),
        feature_encoder_spec=(
            f"[({channels}, 10, 5)] + [({channels}, 3, 2)] * 4 "
            f"+ [({channels},2,2)] + [({channels},2,2)]"
        ),
    )
    audio["decoder"].update(decoder_dim=int(decoder_dim), decoder_layers=int(decoder_layers))
    conf = copy.deepcopy(_MODEL_CONF)
    conf.update(
        depth=int(depth),
        num_heads=int(num_heads),
        embed_dim=int(embed_dim),
        average_top_k_layers=int(depth),
        normalize=bool(normalize),
        modalities={"audio": audio},
    )
    return conf


def _evaluate_spec(node):
    """Evaluates a spec made of int tuples, lists, ``+`` and ``*`` (nothing else)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_evaluate_spec(element) for element in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _evaluate_spec(node.left), _evaluate_spec(node.right)
        return left + right if isinstance(node.op, ast.Add) else left * right
    raise ValueError(f"unsupported element in a feature_encoder_spec: {ast.dump(node)}")


def feature_encoder_layers(model_conf):
    """The convolutional waveform encoder's layers, from a ``model_conf``.

    FunASR ``eval``s ``modalities.audio.feature_encoder_spec`` (a Python
    expression such as ``"[(512, 10, 5)] + [(512, 3, 2)] * 4"``); this parses
    it without running code.

    Arguments
    ---------
    model_conf : dict
        An emotion2vec ``model_conf`` (e.g. :func:`emotion2vec_model_conf`).

    Returns
    -------
    list of tuple
        ``(channels, kernel, stride)`` per layer, input first.

    Raises
    ------
    ValueError
        If the spec holds anything but integer tuples, lists, ``+`` and ``*``.

    Example
    -------
    >>> feature_encoder_layers(emotion2vec_model_conf())[:2]
    [(512, 10, 5), (512, 3, 2)]
    >>> len(feature_encoder_layers(emotion2vec_model_conf()))
    7
    """
    spec = model_conf["modalities"]["audio"]["feature_encoder_spec"]
    layers = _evaluate_spec(ast.parse(spec, mode="eval").body)
    if not isinstance(layers, list) or not all(
        isinstance(layer, tuple) and len(layer) == 3 for layer in layers
    ):
        raise ValueError(
            f"feature_encoder_spec is not a list of (channels, kernel, stride): {spec!r}"
        )
    return layers


#: Feature size of the published emotion2vec models, by hub name (ModelScope
#: ``iic/<name>`` or Hugging Face ``emotion2vec/<name>``).
PUBLISHED_FEATURE_SIZES = {
    "emotion2vec_base": 768,
    "emotion2vec_plus_seed": 768,
    "emotion2vec_plus_base": 768,
    "emotion2vec_plus_large": 1024,
}


def emotion2vec_feature_size(source):
    """The feature size an emotion2vec source gives, known without loading it.

    Arguments
    ---------
    source : str
        A local model directory (its ``config.yaml`` is read) or a hub id.

    Returns
    -------
    int or None
        ``embed_dim``; None when it cannot be known (an unpublished hub id,
        a directory without a readable ``config.yaml``).

    Example
    -------
    >>> emotion2vec_feature_size("iic/emotion2vec_plus_large"), emotion2vec_feature_size("me/x")
    (1024, None)
    """
    import os

    import yaml

    source = os.fspath(source)
    if os.path.isdir(source):
        try:
            with open(os.path.join(source, "config.yaml"), encoding="utf-8") as stream:
                size = (yaml.safe_load(stream) or {}).get("model_conf", {}).get("embed_dim")
        except (OSError, yaml.YAMLError, AttributeError):
            return None
        return int(size) if size is not None else None
    return PUBLISHED_FEATURE_SIZES.get(source.rstrip("/").split("/")[-1])
