"""EvalPlus's HumanEval+ and MBPP+: data (data.py), expected outputs computed in the sandbox
(expected.py), one program per sample judging base and plus inputs evalplus's way (harness.py with
values.py and oracles.py, built by program.py), and scoring (check.py)."""
