"""Check an answer of the Rekognition-compatible API against botocore's output shape.

botocore silently drops members its model does not know, so a misspelt field would vanish on
the client without a failure: this walk names every member (and every scalar of the wrong type
or outside its enum) that the model would not accept.
"""

from __future__ import annotations

import botocore.session

_SCALARS = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
}


def output_shape(operation: str):
    model = botocore.session.get_session().get_service_model("rekognition")
    return model.operation_model(operation).output_shape


def problems(shape, value, where: str = "") -> list[str]:
    """Every place where ``value`` departs from ``shape``; empty if it fits."""
    found: list[str] = []
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where or '<answer>'}: not an object"]
        for name, item in value.items():
            path = f"{where}.{name}" if where else name
            if name not in shape.members:
                found.append(f"{path}: not in the model's {shape.name}")
            else:
                found += problems(shape.members[name], item, path)
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        for index, item in enumerate(value):
            found += problems(shape.member, item, f"{where}[{index}]")
    elif kind in _SCALARS:
        if not isinstance(value, _SCALARS[kind]) or (kind != "boolean" and isinstance(value, bool)):
            found.append(f"{where}: {value!r} is not a {kind}")
        elif getattr(shape, "enum", None) and value not in shape.enum:
            found.append(f"{where}: {value!r} is not one of {shape.enum}")
    else:
        found.append(f"{where}: unexpected {kind} in the model")
    return found


def count_members(value) -> int:
    """How many members a walk saw (to prove it checked something)."""
    if isinstance(value, dict):
        return len(value) + sum(count_members(item) for item in value.values())
    if isinstance(value, list):
        return sum(count_members(item) for item in value)
    return 0
