"""Monthly settlement of paid helpers (结算): verified hours × rate, closed and exported."""
