import { INGRESS_SECTIONS } from '../../../../ingress/config';
import type { ConfigSection } from '../../../../lib/config/declare';
import { integer, text } from '../../../../lib/config/declare';
import {
  closestName,
  editDistance,
  unknownVariables,
  warnUnknownVariables,
} from '../../../../lib/config/unknown';
import { PROCESSOR_SECTIONS } from '../../../../processors/config';

const about = { description: '', readBy: ['ingress'] as const };
const sections: ConfigSection[] = [
  {
    title: 'Shared',
    intro: '',
    prefixes: ['KAFKA_'],
    variables: [
      text('KAFKA_BROKERS', { ...about, default: 'a:1' }),
      text('KAFKA_CLIENT_ID', { ...about, default: 'c' }),
    ],
  },
  {
    title: 'Ingress',
    intro: '',
    prefixes: ['INGRESS_'],
    variables: [
      integer('INGRESS_PORT', { ...about, default: 3000 }),
      integer('INGRESS_ACK_TIMEOUT_MS', { ...about, default: 8000 }),
    ],
  },
];

describe('unknown variables', () => {
  it('reports a name under an owned prefix that nothing declares, with the closest declared name', () => {
    expect(
      unknownVariables(
        { KAFKA_BROKER: 'x:1', INGRESS_ACK_TIMEOUT: '5000', INGRESS_COLOUR: 'blue' },
        sections,
      ),
    ).toEqual([
      { name: 'INGRESS_ACK_TIMEOUT', didYouMean: 'INGRESS_ACK_TIMEOUT_MS' },
      { name: 'INGRESS_COLOUR', didYouMean: undefined },
      { name: 'KAFKA_BROKER', didYouMean: 'KAFKA_BROKERS' },
    ]);
  });

  it('leaves declared names, other prefixes and Kubernetes service links alone', () => {
    expect(
      unknownVariables(
        {
          KAFKA_BROKERS: 'a:1',
          INGRESS_PORT: '3000',
          PROCESSOR_ANYTHING: '1',
          PATH: '/bin',
          KAFKA_SERVICE_HOST: '10.0.0.1',
          KAFKA_SERVICE_PORT_BROKER: '9092',
          KAFKA_PORT: 'tcp://10.0.0.1:9092',
          KAFKA_PORT_9092_TCP_ADDR: '10.0.0.1',
        },
        sections,
      ),
    ).toEqual([]);
  });

  it('does not take a *_PORT set by hand for a service link', () => {
    expect(unknownVariables({ INGRESS_METRICS_PORT: '9000' }, sections)).toEqual([
      { name: 'INGRESS_METRICS_PORT', didYouMean: undefined },
    ]);
  });

  it('warns once per unknown variable, without failing', () => {
    const warnings: { details: object; message: string }[] = [];
    const found = warnUnknownVariables({ KAFKA_BROKER: 'x:1' }, sections, {
      warn: (details, message) => warnings.push({ details, message }),
    });
    expect(found).toHaveLength(1);
    expect(warnings).toEqual([
      {
        details: { variable: 'KAFKA_BROKER', didYouMean: 'KAFKA_BROKERS' },
        message:
          'unknown variable KAFKA_BROKER is ignored; did you mean KAFKA_BROKERS? (docs/configuration.md lists the variables)',
      },
    ]);
  });

  it('measures edits and suggests only what is near', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    expect(closestName('INGRES_PORT', ['INGRESS_PORT', 'INGRESS_HOST'])).toBe('INGRESS_PORT');
    expect(closestName('INGRESS_BATCH', ['INGRESS_PORT', 'KAFKA_SSL'])).toBeUndefined();
  });

  it('each service checks only its own prefixes and the shared ones, so a shared environment is quiet', () => {
    const everything = Object.fromEntries(
      [...INGRESS_SECTIONS, ...PROCESSOR_SECTIONS].flatMap((s) => s.variables.map((v) => [v.name, '1'])),
    );
    expect(unknownVariables(everything, INGRESS_SECTIONS)).toEqual([]);
    expect(unknownVariables(everything, PROCESSOR_SECTIONS)).toEqual([]);
    const typos = { INGRESS_ACK_TIMEOUT: '5s', KAFKA_BROKER: 'a:1', EXPANSION_DEADLINE_MS: '30000' };
    expect(unknownVariables(typos, INGRESS_SECTIONS).map((u) => [u.name, u.didYouMean])).toEqual([
      ['INGRESS_ACK_TIMEOUT', 'INGRESS_ACK_TIMEOUT_MS'],
      ['KAFKA_BROKER', 'KAFKA_BROKERS'],
    ]);
    expect(unknownVariables(typos, PROCESSOR_SECTIONS).map((u) => [u.name, u.didYouMean])).toEqual([
      ['EXPANSION_DEADLINE_MS', 'EXPANSION_DEADLINE'],
      ['KAFKA_BROKER', 'KAFKA_BROKERS'],
    ]);
  });
});
