"""Bulk-send templates: ``{placeholder}`` fields filled from each recipient's columns."""

from __future__ import annotations

import string

from hub.errors import ValidationFailed


def placeholders(template: str) -> list[str]:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as err:
        raise ValidationFailed(f"the template is not valid: {err} (write a literal brace as {{{{ or }}}})"
                               ) from err
    for name in names:
        if not name.isidentifier():
            raise ValidationFailed(f"the template placeholder {{{name}}} is not a simple name")
    return list(dict.fromkeys(names))


def render(template: str, values: dict[str, str]) -> str:
    return template.format_map(values)
