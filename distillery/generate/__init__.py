"""Generation backends behind one interface (teachers, judges, students under evaluation)."""
