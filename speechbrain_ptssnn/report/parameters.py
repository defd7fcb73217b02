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
        directly: ``module``, ``type``, ``component``, ``parameters``; the
        model's own parameters get a row each, named by the parameter).

    Example
    -------
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> table = parameter_table(model)
    >>> table["total"], table["components"]
    (23, {'0': 15, '2': 8})
    >>> table["modules"][0]
    {'module': '0', 'type': 'Linear', 'component': '0', 'parameters': 15}
    >>> model.gate = torch.nn.Parameter(torch.zeros(()))
    >>> parameter_table(model)["modules"][0]
    {'module': 'gate', 'type': 'Parameter', 'component': 'gate', 'parameters': 1}
    """
    rows, components = [], {}
    for name, module in model.named_modules():
        if not name:  # the model's own parameters (a gate, say): one row each, by name
            owned = [(key, type(p).__name__, key, p.numel())
                     for key, p in module.named_parameters(recurse=False) if p.requires_grad]
        else:
            own = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
            owned = [(name, type(module).__name__, _component(model, name), own)] if own else []
        for module_name, kind, component, count in owned:
            rows.append({
                "module": module_name, "type": kind, "component": component, "parameters": count,
            })
            components[component] = components.get(component, 0) + count
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return {"total": total, "frozen": frozen, "components": components, "modules": rows}


def _component(model, name):
    """``saturation``, ``blocks.0``, ...: the top-level part a module belongs to."""
    parts = name.split(".")
    child = getattr(model, parts[0], None)
    if isinstance(child, (torch.nn.ModuleList, torch.nn.ModuleDict)) and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]
