// The UserService workload lives with the provider in @dubbo-mesh/dubbo-provider (the demo
// serves it); tests and benchmarks keep importing it from here.
export { PAGE_CLASS, USER_CLASS, USER_SERVICE, makeUser, pageValue, userServiceCalls, userValue, type User } from '@dubbo-mesh/dubbo-provider';
