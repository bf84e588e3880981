"""SavedModel export: ``serving_default`` for the whole sequence and ``step`` for streaming.

Both signatures live in one SavedModel and share its variables (the step model is built from
the same layers, see `export.step`). The batch axis is dynamic; names and shapes are those of
`export.signatures`. Preprocessing that a task puts inside its model travels with it.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import tensorflow as tf

from export.files import atomic_folder
from export.plan import ModelFacts, model_facts
from export.signatures import SEQUENCE_SIGNATURE, STEP_SIGNATURE, sequence_function, step_function
from export.step import StepModelError


def to_savedmodel(model: keras.Model, folder: str | os.PathLike, *, step: bool | None = None,
                  overwrite: bool = False, facts: ModelFacts | None = None) -> Path:
    """Write ``model`` as a SavedModel at ``folder`` and return its path.

    Signatures: ``serving_default`` (the whole sequence) and, for unidirectional recurrent
    models, ``step`` (one time step with explicit states). ``step=None`` adds ``step`` when the
    model has a step form, ``True`` requires it (`StepModelError` otherwise), ``False`` leaves
    it out. ``facts``: the model's `export.plan.ModelFacts` when the caller has them (their
    step model is used). The folder is written aside and renamed into place; an existing
    ``folder`` is refused (`FileExistsError`) unless ``overwrite``.
    """
    module = tf.Module()
    module.model = model
    signatures = {SEQUENCE_SIGNATURE: sequence_function(model).get_concrete_function()}
    if step is not False:
        facts = facts or model_facts(model)
        if facts.step is not None:
            module.step_model = facts.step
            signatures[STEP_SIGNATURE] = step_function(facts.step).get_concrete_function()
        elif step:
            raise StepModelError(f"model {facts.label!r}: {facts.step_error}")
    with atomic_folder(folder, overwrite=overwrite) as temp:
        tf.saved_model.save(module, str(temp), signatures=signatures)
    return Path(folder).expanduser().absolute()
