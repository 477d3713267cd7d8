"""Experiment recipes on real data, run as scripts or modules: ``classroom`` trains the classroom models in
``weights/``; ``utkface_setup`` holds the data folders they read. The full-scale GPU campaign is ``gpu/``."""
