/*
 * bench_spi_loop(query text, n int) -> bigint rows
 *
 * The baseline of test/bench/harness_cost.sh: the statement prepared once
 * through SPI and executed n times, with nothing else -- no timing, no
 * samples, no storing.  Only built and loaded by that benchmark.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_spi_loop);

Datum
bench_spi_loop(PG_FUNCTION_ARGS)
{
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			n = PG_GETARG_INT32(1);
	SPIPlanPtr	plan;
	int64		rows = 0;
	int			i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (SPI_execute_plan(plan, NULL, NULL, false, 0) < 0)
			elog(ERROR, "SPI_execute_plan failed");
		rows += SPI_processed;
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_finish();
	PG_RETURN_INT64(rows);
}
