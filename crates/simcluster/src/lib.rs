//! A Kubernetes API stand-in on loopback that serves the Vimana CRDs, with a simulated Vimana operator and fault injection.
