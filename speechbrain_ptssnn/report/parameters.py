"""Trainable parameters per module and in total."""

import torch


def parameter_table(model):
    """The trainable parameters of a model, by owning module and by component.

    Arguments
    ---------
    model : torch.nn.Module
        The model.

    Returns
    -------
    dict
        ``total`` (trainable parameters), ``frozen`` (the others),
        ``components`` (top-level child → its trainable parameters, in model
        order; the first two levels for a ``ModuleList`` such as ``blocks.0``)
        and ``modules`` (one row per module that owns trainable parameters
        directly: ``module``, ``type``, ``component``, ``parameters``).

    Example
    -------
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> table = parameter_table(model)
    >>> table["total"], table["components"]
    (23, {'0': 15, '2': 8})
    >>> table["modules"][0]
    {'module': '0', 'type': 'Linear', 'component': '0', 'parameters': 15}
    """
    rows, components = [], {}
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        if not own:
            continue
        component = _component(model, name)
        rows.append({
            "module": name or type(model).__name__,
            "type": type(module).__name__,
            "component": component,
            "parameters": own,
        })
        components[component] = components.get(component, 0) + own
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return {"total": total, "frozen": frozen, "components": components, "modules": rows}


def _component(model, name):
    """``saturation``, ``blocks.0``, ...: the top-level part a module belongs to."""
    if not name:
        return type(model).__name__
    parts = name.split(".")
    child = getattr(model, parts[0], None)
    if isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict)) and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]
