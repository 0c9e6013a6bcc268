"""Learned exercise policies: least-squares Monte Carlo (optimal stopping) and the switch
strategy's policy, learned on paths of its own."""
