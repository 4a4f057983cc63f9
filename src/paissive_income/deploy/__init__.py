"""The framework's own deployment: one image, a Compose stack and a Kubernetes stack.

``stack`` describes every service once (command, ports, health paths, env, secrets, resources);
the Compose and Kubernetes writers turn that description into files, so both agree.
"""
