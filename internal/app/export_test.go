package app

// DevListenAddrs exposes devListenAddrs to the package's external tests.
var DevListenAddrs = devListenAddrs
