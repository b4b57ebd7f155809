fn main() {
    // Bake an rpath to the libpython found at build time, so the binary never picks
    // up a different system libpython at run time.
    pyo3_build_config::add_libpython_rpath_link_args();
}
