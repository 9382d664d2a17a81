"""Live probes: small snapshots of what a network is doing, taken inside the training process.

``views`` computes the six pictures (filters, activations, decision boundary, hidden
representation, confusion matrix, histograms), ``robustness`` the attacked accuracy, and
``schedule`` decides which of them run at epoch ends and between steps. Node outputs come
from ``runtime.capture``; eval mode, devices and data tensors from ``runtime.evaluation``.
``payloads`` names the keys of what each of them sends.
"""
