"""The files in deploy/ (Kubernetes manifests, a Vertex AI job spec, the training image), all
written by `make deploy` (`python -m deploy.generate`) from the Python modules here; the
committed files are checked byte for byte against them (tests/test_deploy_generate.py)."""
