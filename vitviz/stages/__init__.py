"""One module per stage of the walk-through: pure computations from an Analysis (and the bundle where the model is needed), returning arrays."""
