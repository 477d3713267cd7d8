"""Experiments on real data, run as scripts (``python experiments/utkface.py ...``) or modules.

``utkface_setup`` holds what the stages share (models, labels, profiles, folders); ``utkface`` trains and
evaluates, ``utkface_figures`` plots. Imports go one way: utkface -> utkface_figures -> utkface_setup.
"""
