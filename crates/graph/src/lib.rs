//! The dependency graph of rendered objects (Vimana → Domain → Server → Component) and the plan of waves that `diff`, `sync` and the daemon share. Pure: no I/O.
