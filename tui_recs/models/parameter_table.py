"""docs/parameters.md, generated from the declarations: ``python -m tui_recs.models.parameter_table
> docs/parameters.md`` (a test checks that the file is current)."""

from __future__ import annotations

from tui_recs.models import registry


def markdown() -> str:
    """Every registered model's hyperparameters as Markdown tables, in declaration order."""
    lines = ["# Hyperparameters", "",
             "Generated from each model's `PARAMS` by `python -m tui_recs.models.parameter_table`;",
             "do not edit. *In key*: whether the value changes the trained model (and so its",
             "cache key); the others only change how fast it trains or what it reports.", ""]
    for name in registry.names():
        model = registry.model_class(name)
        lines += [f"## {model.title} (`--model {name}`)", ""]
        if not model.PARAMS:
            lines += ["No hyperparameters.", ""]
            continue
        lines += ["| parameter | flag | default | allowed | in key | meaning |",
                  "|---|---|---|---|---|---|"]
        for param in model.PARAMS:
            flag = f"`{param.flag}`" if param.effect != "reporting" else "(set by the front ends)"
            default = param.none_means if param.default is None else param.default
            lines.append(f"| `{param.name}` | {flag} | {default} | {param.allowed} | "
                         f"{'yes' if param.in_key else 'no'} | {param.help} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
