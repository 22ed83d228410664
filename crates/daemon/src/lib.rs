//! distccd's logic: options, access control, the compiler allow-list, the server-side argv
//! rewrite, job directories, serving one request, and the accept loop.
