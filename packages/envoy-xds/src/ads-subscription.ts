import { createHash } from 'node:crypto';
import { TYPE_URLS } from './envoy-protos.js';

/** The name that subscribes to every resource of a type (xDS's explicit wildcard). */
export const WILDCARD = '*';

/**
 * Types whose first request with no names is a wildcard subscription (xDS's legacy wildcard)
 * and whose state-of-the-world responses carry every resource the client is subscribed to: a
 * resource left out is deleted. Every other type is asked for by name, and a state-of-the-world
 * response of it may carry only some resources (Envoy and gRPC read an absent one as unchanged).
 */
const WILDCARD_TYPES: ReadonlySet<string> = new Set([TYPE_URLS.listener, TYPE_URLS.cluster]);

/** Whether a type is a wildcard (and whole-state) type: Listener and Cluster. */
export function isWildcardType(typeUrl: string): boolean {
  return WILDCARD_TYPES.has(typeUrl);
}

/** Sorted names' text up to this length is a key as it is; a longer one is hashed. */
const KEY_TEXT_LIMIT = 256;

/**
 * What one stream subscribes to for one type, immutable: a change makes a new one, so a
 * response computed for one can be shared by every stream with an equal {@link key}.
 */
export class AdsSubscription {
  private keyText: string | undefined;
  private listed: readonly string[] | undefined;
  /** The state-of-the-world request's names it was made from: the next request (an ACK) usually repeats them, element by element. */
  private requested: readonly string[] | undefined;

  private constructor(
    /** Every resource of the type (explicit `*`, or the legacy empty first request). */
    readonly wildcard: boolean,
    /** Names subscribed explicitly (also while a wildcard is on). */
    readonly names: ReadonlySet<string>,
    /** The wildcard came from a first request with no names, and no name was asked for since (xDS's legacy wildcard). */
    readonly legacy: boolean,
  ) {}

  /**
   * What this subscription and `other` both cover (what a client still holds of what it held
   * when its subscription changes): this very object when `other` covers all of it.
   */
  intersect(other: AdsSubscription): AdsSubscription {
    if (other === this || other.wildcard) return this;
    if (this.wildcard) return new AdsSubscription(false, other.names, false);
    let all = true;
    for (const name of this.names) if (!other.names.has(name)) all = false;
    if (all) return this;
    return new AdsSubscription(false, new Set([...this.names].filter((name) => other.names.has(name))), false);
  }

  /** This subscription without `names` (a client's held resources it must be sent again); this object when it has none of them. */
  without(names: ReadonlySet<string>): AdsSubscription {
    if (this.wildcard || ![...names].some((name) => this.names.has(name))) return this;
    return new AdsSubscription(false, new Set([...this.names].filter((name) => !names.has(name))), false);
  }

  /** Whether the subscription covers `name`. */
  covers(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  /** Equal keys: equal subscriptions (the wildcard and the set of names). */
  get key(): string {
    if (this.keyText === undefined) {
      const text = [...this.names].sort().join('\n');
      this.keyText = `${this.wildcard ? '*' : '-'}${text.length <= KEY_TEXT_LIMIT ? text : createHash('sha256').update(text).digest('hex')}`;
    }
    return this.keyText;
  }

  /** The names as the admin API lists them, `*` first for a wildcard. */
  get list(): readonly string[] {
    this.listed ??= Object.freeze([...(this.wildcard ? [WILDCARD] : []), ...this.names]);
    return this.listed;
  }

  /**
   * A state-of-the-world request's `resource_names` (they replace the subscription). The first
   * request of a wildcard type with no names is a wildcard, and stays one while requests name
   * nothing; once a request names something, only an explicit `*` is a wildcard.
   */
  static stateOfTheWorld(previous: AdsSubscription | undefined, typeUrl: string, names: readonly string[]): AdsSubscription {
    if (previous === undefined && names.length === 0 && isWildcardType(typeUrl)) return new AdsSubscription(true, new Set(), true);
    if (previous?.legacy === true && names.length === 0) return previous;
    // An ACK repeats the names in the same order: compared element by element, no set is built.
    const requested = previous?.requested;
    if (requested !== undefined && requested.length === names.length && requested.every((name, i) => name === names[i])) return previous!;
    const set = new Set(names);
    const wildcard = set.delete(WILDCARD);
    // An ACK repeats the names: keep the same object (its key is already known).
    if (
      previous !== undefined &&
      !previous.legacy &&
      previous.wildcard === wildcard &&
      previous.names.size === set.size &&
      [...set].every((n) => previous.names.has(n))
    ) {
      previous.requested = names;
      return previous;
    }
    const made = new AdsSubscription(wildcard, set, false);
    made.requested = names;
    return made;
  }

  /**
   * A delta request's `resource_names_subscribe` / `_unsubscribe`. The first request of a
   * wildcard type that subscribes to nothing is a wildcard; a wildcard (legacy or not) ends
   * only when `*` is unsubscribed.
   */
  static delta(previous: AdsSubscription | undefined, typeUrl: string, subscribe: readonly string[], unsubscribe: readonly string[]): AdsSubscription {
    let current = previous;
    if (current === undefined) {
      const legacy = subscribe.length === 0 && isWildcardType(typeUrl);
      current = new AdsSubscription(legacy, new Set(), legacy);
    }
    // While in the legacy wildcard, a request that subscribes to nothing changes nothing.
    if (current.legacy && subscribe.length === 0) return current;
    if (subscribe.length === 0 && unsubscribe.length === 0) return current;
    const names = new Set(current.names);
    let wildcard = current.wildcard;
    for (const name of subscribe) {
      if (name === WILDCARD) wildcard = true;
      else names.add(name);
    }
    for (const name of unsubscribe) {
      if (name === WILDCARD) wildcard = false;
      else names.delete(name);
    }
    return new AdsSubscription(wildcard, names, false);
  }
}
