//! The fault catalogue and its toggles: what each fault breaks, its parameters, the admin API and scenario files.
