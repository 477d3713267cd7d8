"""Experiment recipes on real data: ``classroom`` trains, exports, evaluates and reports the classroom models in
``weights/`` from the committed recipes in ``recipes/``. The full-scale GPU campaign is ``gpu/``."""
