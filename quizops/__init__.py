"""quizops: adaptive-quiz policy MLOps suite."""
