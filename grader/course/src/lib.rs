//! The web course: lessons, lab pages, the TraceQL console and trace pictures.
