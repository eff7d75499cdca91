"""The model side: the zoo, reaching the hub, loading weights, the capture mechanism, the one analysis pass."""
