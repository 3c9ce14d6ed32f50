"""Generation behind one interface, for teachers, judges and models under evaluation: the backends
(:mod:`.registry` builds one from a config entry), the content-addressed generation cache, and the
sampler the transformers backend uses."""
