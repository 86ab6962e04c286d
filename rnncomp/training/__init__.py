"""Training: data pipelines, the trainer and its run folders, Hyperband tuning, recipe comparisons, the SRGAN workflow."""
