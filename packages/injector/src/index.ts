// @dubbo-mesh/injector: the sidecar injector (issue #12). Exports are added as its parts land.
export {};
