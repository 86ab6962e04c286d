"""Evaluation: metrics, rate-distortion maths, classical baselines, evaluate, reports and plots."""
