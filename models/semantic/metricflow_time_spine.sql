{#- The semantic layer's time spine: one row per day (MetricFlow joins metrics to it by day). -#}
{{ readout.day_spine(var('time_spine_start'), var('time_spine_end')) }}
