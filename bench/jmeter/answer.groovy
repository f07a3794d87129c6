// The JSR223 assertion of every request of flash-sale.jmx: judges one answer against the API
// and decides whether the request is sent again. Parameters: the step, one of claim, reserve,
// confirm, cancel (the sampler's label).
//
// - An answer the API promises for the step passes, 409s included (JMeter would count every
//   4xx as failed): claim 201 / 409 sold_out, already_claimed; reserve 201 / 409 sold_out,
//   limit_exceeded; confirm and cancel 200 / 409 conflict (the hold expired first).
// - 503 (the durable log has not acknowledged yet, or is refusing) and 429 (rate limited)
//   decided nothing the client can rely on: the sample passes as `retry_503` / `retry_429`,
//   the thread sleeps Retry-After seconds and the While Controller sends the same request again
//   with the same Idempotency-Key, up to retries_max tries; a retried claim that was granted
//   answers its first 201 again, so a grant is never counted twice.
// - Anything else fails the sample with a short reason (no commas: it goes into the CSV).
// Sets `outcome` (saved into results.jtl by -Jsample_variables=outcome), `<step>_retry`, and
// after a reservation `order_id`.
import groovy.json.JsonSlurper

String step = Parameters.trim()
String code = prev.getResponseCode()
String body = prev.getResponseDataAsString()
def json = null
try {
  json = new JsonSlurper().parseText(body)
} catch (Exception ignored) {
  json = null
}
String error = (json instanceof Map && json.error) ? json.error.toString() : null
int tries = ((vars.get(step + '_tries') ?: '0') as int) + 1
vars.put(step + '_tries', tries as String)
vars.put(step + '_retry', 'false')

Map success = [claim: '201', reserve: '201', confirm: '200', cancel: '200']
Map decided409 = [claim: ['sold_out', 'already_claimed'], reserve: ['sold_out', 'limit_exceeded'],
                  confirm: ['conflict'], cancel: ['conflict']]
String outcome
String problem = null
if (!success.containsKey(step)) {
  outcome = 'bad_step'
  problem = 'answer.groovy: unknown step ' + step
} else if (code == success[step]) {
  switch (step) {
    case 'claim':
      outcome = 'granted'
      if (!(json instanceof Map) || !json.claim_id || json.user_id != vars.get('user_id')) {
        problem = '201 without a claim for ' + vars.get('user_id')
      }
      break
    case 'reserve':
      outcome = 'reserved'
      if (!(json instanceof Map) || !json.order_id || json.status != 'reserved') {
        problem = '201 without a reserved order'
      } else {
        vars.put('order_id', json.order_id.toString())
      }
      break
    default:  // confirm, cancel
      outcome = step == 'confirm' ? 'confirmed' : 'cancelled'
      if (!(json instanceof Map) || json.status != outcome) problem = code + ' without status ' + outcome
  }
} else if (code == '409') {
  outcome = error ?: 'unreadable_409'
  if (!(outcome in decided409[step])) problem = '409 with error ' + outcome
} else if (code == '503' || code == '429') {
  outcome = 'retry_' + code
  def header = prev.getResponseHeaders() =~ /(?im)^retry-after:\s*(\d+)/
  int seconds = header.find() ? (header.group(1) as int) : 1
  int triesMax = (vars.get('retries_max') ?: '10') as int
  if (tries >= triesMax) {
    problem = code + ' ' + (error ?: '') + ' still after ' + tries + ' tries'
  } else {
    vars.put(step + '_retry', 'true')
    // Closed loop, as a browser with a retry timer: this thread waits, the others go on.
    Thread.sleep(Math.min(seconds, 60) * 1000L)
  }
} else {
  outcome = 'status_' + code.replaceAll(/[^A-Za-z0-9]+/, '_')
  problem = 'unexpected status ' + code + (error ? ' ' + error : '')
}
vars.put('outcome', outcome)
if (problem == null) {
  prev.setSuccessful(true)
} else {
  String excerpt = body.take(120).replaceAll(/[,"\r\n]+/, ' ')
  AssertionResult.setFailure(true)
  AssertionResult.setFailureMessage(problem + ': ' + excerpt)
}
