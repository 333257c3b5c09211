/**
 * The workload of apache/dubbo-benchmark's UserService, as hessian.js values: the same
 * interface, methods, parameter types and bean classes, so peers and benchmarks see the
 * shapes real Dubbo traffic has.
 */

/** Interface name of the benchmark service. */
export const USER_SERVICE = 'org.apache.dubbo.benchmark.service.UserService';
/** Java class of the benchmark's User bean. */
export const USER_CLASS = 'org.apache.dubbo.benchmark.bean.User';
/** Java class of the benchmark's Page bean. */
export const PAGE_CLASS = 'org.apache.dubbo.benchmark.bean.Page';

/** A User as the provider builds it (plain fields). */
export interface User {
  id: number;
  name: string;
  sex: number;
  birthday: Date;
  email: string;
  mobile: string;
  address: string;
  icon: string;
  permissions: number[];
  status: number;
  createTime: Date;
  updateTime: Date;
}

const EPOCH = Date.UTC(2020, 0, 1);

/** The User the benchmark's provider returns for `id`. */
export function makeUser(id: number): User {
  return {
    id,
    name: `Doug Lea ${id}`,
    sex: 1,
    birthday: new Date(EPOCH - 40 * 365 * 86400000),
    email: `dong.li${id}@example.com`,
    mobile: '18612345678',
    address: '北京市 中关村 中关村大街1号 鼎好大厦 1605',
    icon: 'https://www.baidu.com/img/bd_logo1.png',
    permissions: [1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92],
    status: 1,
    createTime: new Date(EPOCH),
    updateTime: new Date(EPOCH),
  };
}

/** A User as a typed hessian.js value (`{$class, $}`), with Java field types. */
export function userValue(user: User): { $class: string; $: Record<string, unknown> } {
  return {
    $class: USER_CLASS,
    $: {
      id: { $class: 'long', $: user.id },
      name: { $class: 'java.lang.String', $: user.name },
      sex: { $class: 'int', $: user.sex },
      birthday: { $class: 'java.util.Date', $: user.birthday },
      email: { $class: 'java.lang.String', $: user.email },
      mobile: { $class: 'java.lang.String', $: user.mobile },
      address: { $class: 'java.lang.String', $: user.address },
      icon: { $class: 'java.lang.String', $: user.icon },
      permissions: { $class: 'java.util.List', $: user.permissions.map((p) => ({ $class: 'int', $: p })) },
      status: { $class: 'int', $: user.status },
      createTime: { $class: 'java.util.Date', $: user.createTime },
      updateTime: { $class: 'java.util.Date', $: user.updateTime },
    },
  };
}

/** A Page of users as a typed hessian.js value. */
export function pageValue(pageNo: number, users: User[]): { $class: string; $: Record<string, unknown> } {
  return {
    $class: PAGE_CLASS,
    $: {
      pageNo: { $class: 'int', $: pageNo },
      totalPage: { $class: 'int', $: 1024 },
      result: { $class: 'java.util.List', $: users.map(userValue) },
    },
  };
}

/** Request bodies' invocation parts for the four benchmark calls, as `encodeRequestBody` takes them. */
export function userServiceCalls(): Array<{ method: string; parameterTypes: string[]; arguments: unknown[] }> {
  return [
    { method: 'existUser', parameterTypes: ['java.lang.String'], arguments: ['dong.li42@example.com'] },
    { method: 'createUser', parameterTypes: [USER_CLASS], arguments: [userValue(makeUser(42))] },
    { method: 'getUser', parameterTypes: ['long'], arguments: [{ $class: 'long', $: 42 }] },
    { method: 'listUser', parameterTypes: ['int'], arguments: [{ $class: 'int', $: 3 }] },
  ];
}
