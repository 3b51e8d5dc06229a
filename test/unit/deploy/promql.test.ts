/**
 * The PromQL scanner the deploy/ tests rely on: if it missed names, the catalog checks on the rules and
 * the dashboard would pass vacuously.
 */
import { exportedMetricNames, metricNamesIn } from '../../helpers/promql';

describe('metricNamesIn', () => {
  it('finds selected metrics and skips functions, keywords, labels, numbers and durations', () => {
    const expr =
      'sum by (le, service) (rate(foo_bucket{job=~"a.*", x="{b} bar_in_string"}[5m])) ' +
      '/ on(instance) group_left(extra) bar offset 1h > bool 1e3 and {__name__="baz"} unless absent(qux)';
    expect(metricNamesIn(expr)).toEqual(['bar', 'baz', 'foo_bucket', 'qux']);
  });

  it('understands Grafana variables and recording-rule names', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{service=~"$service"}[$__rate_interval]))) + nylas_stream:x:rate5m',
      ),
    ).toEqual(['a_seconds_bucket', 'nylas_stream:x:rate5m']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a template
    expect(metricNamesIn('topk(${n}, sum without (partition) (lag))')).toEqual(['lag']);
  });

  it('reports a misspelt name', () => {
    expect(metricNamesIn('rate(nylas_stream_ingress_request_total[5m])')).toEqual([
      'nylas_stream_ingress_request_total',
    ]);
  });
});

describe('exportedMetricNames', () => {
  const names = exportedMetricNames();
  it('expands histograms and includes the prefixed process metrics', () => {
    expect(names.has('nylas_stream_processor_end_to_end_latency_seconds_bucket')).toBe(true);
    expect(names.has('nylas_stream_processor_end_to_end_latency_seconds')).toBe(false);
    expect(names.has('nylas_stream_ingress_requests_total')).toBe(true);
    expect(names.has('nylas_stream_process_resident_memory_bytes')).toBe(true);
    expect(names.has('nylas_stream_nodejs_eventloop_lag_p99_seconds')).toBe(true);
  });
});
