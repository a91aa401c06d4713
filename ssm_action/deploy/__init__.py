"""Deploy mode: route to an environment, make the plan, run a transport, report, keep the record.

plan.py (the agent's parameters and zipapp), run.py (the mode), model.py (what a
transport reports and the one verdict), report.py (outputs, annotations, the
summary table), tracking.py (GitHub deployment and audit record closed on every
path), audit.py (the audit record), routing.py (branch -> environment).
"""
