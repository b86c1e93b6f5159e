//! The crate's one error type: why the simulated cluster could not start, write its
//! kubeconfig, or serve. A refused API request is not an error of the crate but an answer to
//! the client, a [`crate::Status`].

/// Why the simulated cluster failed outside the API (start-up, kubeconfig, serving, shutdown).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound (in use, or not an address of this machine).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address of [`crate::Config::listen`], as written.
        addr: String,
        /// Why the operating system refused it.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig could not be written, or its mode not set to 0600.
    #[error("cannot write the kubeconfig {path}")]
    Kubeconfig {
        /// The file asked for.
        path: std::path::PathBuf,
        /// Why writing it failed.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed: the tokio runtime or a signal handler could not be set up, the bound
    /// address could not be read, the server stopped with an I/O error, or its task panicked.
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
    /// A fault rule does not parse; the message quotes the rule and says what is wrong.
    #[error("invalid configuration: {0}")]
    Config(String),
}
