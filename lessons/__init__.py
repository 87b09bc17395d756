"""nndb's guided lessons: content and the checks that verify a learner's progress."""
