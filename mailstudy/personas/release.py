"""Persona outputs through the release gate.

Why: after one person left, her persona's size would drop by one and tell which persona was
hers. Sizes and shares go through ``mailstudy.release`` like every published count; when the
people described moved by 1 to k-1 since the last release, the published sheets stand.
"""

from __future__ import annotations

import pandas as pd

from mailstudy.personas.model import PersonaModel
from mailstudy.release import held_whole, publish_table
from mailstudy.study import Study

GATE_NAME = "personas/sizes"


def sheets_held(study: Study, model: PersonaModel) -> bool:
    """Whether the sheets of the last release must stand (see the module doc)."""
    return (study.catalog.exists("persona_model")
            and held_whole(study, GATE_NAME, int(model.card["n_people"])))


def release_sizes(study: Study, model: PersonaModel) -> PersonaModel:
    """Persona sizes and shares through the release gate: after one person left, her
    persona's size would drop by one; the sizes of the earlier release then stand."""
    d = model.descriptions
    table = pd.DataFrame({"persona": d["persona"].astype(int).astype(str),
                          "n_people": d["size"].astype(int), "suppressed": False})
    n = int(model.card["n_people"])
    shown, held = publish_table(study, GATE_NAME, table, table["n_people"],
                                population=n, dims=["persona"])
    if not held:
        return model
    sizes = {str(p): int(v) for p, v in zip(shown["persona"], shown["n_people"], strict=True)}
    total = sum(sizes.values()) or 1
    desc = d.copy()
    desc["size"] = [sizes.get(str(int(p)), int(v)) for p, v in zip(d["persona"], d["size"],
                                                                    strict=True)]
    desc["share"] = [round(v / total, 4) for v in desc["size"]]
    card = dict(model.card)
    card["personas"] = [{**c, "size": sizes.get(str(c["persona"]), c["size"]),
                         "share": round(sizes.get(str(c["persona"]), c["size"]) / total, 4)}
                        for c in card["personas"]]
    card["sizes"] = {k: sizes.get(k, v) for k, v in card["sizes"].items()}
    card["n_people"] = total
    card["held_back_by_release_gate"] = True
    return PersonaModel(model.assignments, desc, model.profiles, card, model.diagnostics,
                        model.lang)
