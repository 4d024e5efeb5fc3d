//! RequestInfo: what a Kubernetes API request asks for, parsed from its method and URL.
