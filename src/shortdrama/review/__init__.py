"""The review loop: a producer's decisions (decisions.py) that the graph reads through its specs."""
