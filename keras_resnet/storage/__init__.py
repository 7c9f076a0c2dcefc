"""Paths on any file system (`files`: local or tf.io.gfile URIs), crash-safe writes on each
(`atomic`), and the fault points the reliability tests use (`faults`)."""
