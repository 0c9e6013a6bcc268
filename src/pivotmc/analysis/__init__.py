"""What a run's results are turned into: summaries and comparisons, studies (sensitivity, sweeps,
precision targets), plots and the HTML report."""
