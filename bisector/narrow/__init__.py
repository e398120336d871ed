"""Narrowing a commit to the hunks that change parity (delta debugging below the commit).

hunks.py: the commit's diff on the relevant paths as hunks, and patches of any subset;
patched.py: a private repository where a subset is applied to the parent's tree;
narrowing.py: ddmin over the hunks, each subset scored like a hunt's commit; the result.
"""
