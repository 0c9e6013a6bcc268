"""The model, declared once: the market factors, the scenario and its parameters, the protocol's
rules (halvings, subsidy), the strategies and what their outcomes say about the option to wait,
and the plan that lowers a scenario to the arrays every executor reads."""
